"""Reports of real-call experiments: tables, plots and report.html."""
