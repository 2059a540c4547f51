"""Reading report files: bytes in, report facts (or a named problem) out."""
