"""Workshops that grade themselves: exercises, game days, what-if and the fix."""
