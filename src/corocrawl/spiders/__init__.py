"""Spiders shipped with corocrawl."""
