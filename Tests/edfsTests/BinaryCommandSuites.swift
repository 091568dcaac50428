import Testing

/// Every suite that drives the built binary runs inside this one, one suite at a time. Their tests wait for the
/// binary's processes on a thread of Swift's cooperative pool, which has one thread per core: with two cores, two
/// such suites waiting at once left the in-process nodes of other suites no thread for 10 s (HELLO deadlines missed
/// in full runs, never when a suite ran alone).
@Suite(.serialized) enum BinaryCommandSuites {}
