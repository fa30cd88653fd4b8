"""MyCareNet machinery shared by the synchronous services (insurability, tariff, DMG).

* :mod:`.commons` — the MyCareNet "commons" envelope (CommonInput/Origin/Routing/Detail blob/CommonOutput)
  in its three flavours: commons v3 (MemberData), v2 (Tarification) and the eHealth GMF variant.
* :mod:`.memberdata` — SAML AttributeQuery / Response of MyCareNet MemberData (any facet), sealing,
  and the simulator side with a small facet registry.

Both modules import lxml at import time: plugin ``plugin.py`` files import them lazily.
"""
