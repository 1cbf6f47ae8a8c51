"""rmr1: train, evaluate and use reasoning reward models (RM-R1) from the command line."""

__version__ = "0.1.0"
