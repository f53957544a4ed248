"""Domain services: plain functions that flush and never commit, and know no HTTP."""
