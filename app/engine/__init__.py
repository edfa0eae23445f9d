"""Everything that talks to Temporal. Nothing outside this package imports temporalio."""
