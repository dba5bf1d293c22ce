"""Development tools: benchmarks, fuzzers, load tests and the hostile-input flood. They may
import every package of ours; nothing in the product imports them."""
