"""Thumbnails: a pure core, an AWS Lambda handler and a batch tool (arrives with the images issue).

This package stands alone: it must never import ``sns``.
"""
