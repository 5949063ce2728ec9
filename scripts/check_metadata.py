"""Read every wsolevaluation metadata split under a folder and print its counts (images, boxes, classes,
images with more than one box); a bad file stops with its name and line. Same as `i2c-check-metadata`.

    python scripts/check_metadata.py --root ../shared/data/wsol_metadata
"""
from i2c_nb.cli import i2c_check_metadata

if __name__ == '__main__': i2c_check_metadata()
