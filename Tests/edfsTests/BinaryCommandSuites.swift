import Testing

/// Every suite that drives the built binary runs inside this one, one suite at a time. Their tests used to wait for the
/// binary's processes on a thread of Swift's cooperative pool, which has one thread per core: with two cores, two
/// such suites waiting at once left the in-process nodes of other suites no thread for 10 s (HELLO deadlines missed
/// in full runs, never when a suite ran alone). They now await `EDFSBinary.run`, `TestCluster.started` and
/// `Process.exited()`, which wait off the pool (`offPool`); the suites stay serialized, which also bounds how many
/// `edfs` processes a full run starts at once on a 2-core machine.
@Suite(.serialized) enum BinaryCommandSuites {}
