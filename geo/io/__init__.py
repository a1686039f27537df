"""Reading what users hand in: register columns, file formats, position checks."""
