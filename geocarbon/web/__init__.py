"""Interactive web maps of a finished run (folium/Leaflet), found through the output contract.
User text reaches the page as JSON data, never as template source."""
