"""sitesel: find where on US federal land new industrial parks could go."""

__version__ = "0.1.0"
