"""sastc.train"""
