"""Read and validate what a run is given: land cover, density tables, regions, class schemes.

Nothing here computes: every problem is found before the first pixel is read and explained in one
line naming the file, column, code or feature, and how to fix it.
"""
