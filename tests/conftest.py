import os
import sys

# tests import the plain-Python reference simulator as a sibling module
sys.path.insert(0, os.path.dirname(__file__))
