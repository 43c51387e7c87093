"""sastc.passes"""
