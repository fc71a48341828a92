"""contactcenter: the asyncio server shell around the routing, IVR and pacing cores."""

__version__ = "0.1.0"
