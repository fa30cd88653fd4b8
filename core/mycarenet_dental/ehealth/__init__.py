"""eHealth authentication and cryptography: keystore, XML-DSig, WS-Security, STS, SAML, ETEE, XAdES.

Signatures are written in the project on lxml exclusive c14n + cryptography (see
``spec/engineering-notes.md`` §0); signxml and xmlsec1 are only used by the tests as independent checks.
"""
