"""Classifier networks: the Meso-4 port and timm backbones. Importing this package imports
torch, so only the worker, management commands and benches do."""
