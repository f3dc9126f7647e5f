"""Where worlds come from: OpenStreetMap extracts, the reference V-IRL data format, a procedural grid city."""
