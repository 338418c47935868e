"""The web console for editors and operators, under /console."""
