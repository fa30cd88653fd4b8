"""MyCareNet machinery shared by the synchronous services (insurability, tariff, DMG) — client side.

* :mod:`.commons` — the MyCareNet "commons" envelope (CommonInput/Origin/Routing/Detail blob/CommonOutput)
  in its three flavours: commons v3 (MemberData), v2 (Tarification) and the eHealth GMF variant.
* :mod:`.memberdata` — SAML AttributeQuery / Response of MyCareNet MemberData (any facet) and sealing.
* :mod:`.kmehr`, :mod:`.answers` — KMEHR messages and the checks every answer goes through.

The insurer side of commons and MemberData lives in :mod:`mycarenet_dental.sim`. These modules
import lxml at import time: plugin ``plugin.py`` files import them lazily.
"""
