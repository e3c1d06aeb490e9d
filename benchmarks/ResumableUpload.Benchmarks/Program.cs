using BenchmarkDotNet.Running;

// Micro-benchmarks of ResumableUpload.Middleware's hot paths; see docs/performance.md.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

internal partial class Program;
