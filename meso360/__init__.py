"""meso360: real-time data system of an NSSL Mobile Mesonet vehicle."""

__version__ = "0.2.0"
USER_AGENT = f"meso360/{__version__}"
