"""What a run writes: the output contract (every file declared once), the run's ownership of its
output folder (lock, manifest, staging), and the raster and table writers."""
