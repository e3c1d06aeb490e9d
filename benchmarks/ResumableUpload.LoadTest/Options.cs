using System.Globalization;

namespace ResumableUpload.LoadTest;

/// <summary>The sizes of one run: <c>full</c> (the scenarios) or <c>smoke</c> (tiny, for CI).</summary>
internal sealed record Sizes(
    long ALength,
    long BLength,
    int BParts,
    int CUploads,
    long CLength,
    int DUploads,
    long DLength,
    int DInFlight,
    int EQueries,
    int EInFlight,
    long MLength)
{
    public static readonly Sizes Full = new(1L << 30, 1L << 30, 16, 32, 32L << 20, 2000, 64 << 10, 32, 5000, 16, 4L << 30);

    public static readonly Sizes Smoke = new(8L << 20, 8L << 20, 16, 4, 2L << 20, 40, 64 << 10, 8, 100, 4, 16L << 20);
}

/// <summary>A build of the host to compare with (for "before/after" figures in the same run).</summary>
internal sealed record VariantSpec(string Name, string? HostDll, IReadOnlyList<string> HostArgs);

internal sealed class Options
{
    public const string Usage = """
        usage: ResumableUpload.LoadTest [--mode full|smoke] [--rounds N] [--scenarios A,B,C,D,E,M]
                                        [--protocols xfileid,tus,ietf] [--out DIR] [--work DIR]
                                        [--host PATH/ResumableUpload.Benchmarks.Host.dll] [--configuration Release]
                                        [--variant NAME=HOSTDLL|.[;ARG;ARG...]] [--no-baselines]
          full   the issue's sizes: A 1 GiB, B 1 GiB in 16 parts, C 32 x 32 MiB, D 2000 x 64 KiB, E 5000 queries,
                 M one 4 GiB upload (memory); 3 rounds, medians; writes DIR/results.md and DIR/chart.svg
                 (default DIR: docs/performance)
          smoke  every scenario x protocol with a few MiB, 1 round; fails on any failed request or SHA-256
                 mismatch, never on timing; writes into the work folder unless --out is given
          --variant  also measures the middleware from another host build (or '.' = this one) with extra host
                 arguments, e.g. --variant 'fsync=.;--durability;fsync' or --variant 'before=/tmp/before/Host.dll'
        """;

    public string Mode { get; private set; } = "full";

    public Sizes Sizes => Mode == "smoke" ? Sizes.Smoke : Sizes.Full;

    public int Rounds { get; private set; }

    public IReadOnlyList<string> Scenarios { get; private set; } = ["A", "B", "C", "D", "E", "M"];

    public IReadOnlyList<string> Protocols { get; private set; } = ["xfileid", "tus", "ietf"];

    public string? Out { get; private set; }

    public string? Work { get; private set; }

    public string? Host { get; private set; }

    public string Configuration { get; private set; } = "Release";

    public List<VariantSpec> Variants { get; } = [];

    public bool Baselines { get; private set; } = true;

    public IReadOnlyList<string> CommandLine { get; private set; } = [];

    public static Options Parse(string[] args)
    {
        var options = new Options { CommandLine = args };
        int? rounds = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--mode":
                    options.Mode = Next();
                    if (options.Mode is not ("full" or "smoke"))
                    {
                        throw new ArgumentException("--mode is full or smoke");
                    }

                    break;
                case "--rounds":
                    rounds = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--scenarios":
                    options.Scenarios = Next().ToUpperInvariant().Split(',', StringSplitOptions.RemoveEmptyEntries);
                    break;
                case "--protocols":
                    options.Protocols = Next().ToLowerInvariant().Split(',', StringSplitOptions.RemoveEmptyEntries);
                    break;
                case "--out":
                    options.Out = Next();
                    break;
                case "--work":
                    options.Work = Next();
                    break;
                case "--host":
                    options.Host = Next();
                    break;
                case "--configuration":
                    options.Configuration = Next();
                    break;
                case "--no-baselines":
                    options.Baselines = false;
                    break;
                case "--variant":
                    var spec = Next();
                    var eq = spec.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        throw new ArgumentException("--variant is NAME=HOSTDLL[;ARG...]");
                    }

                    var parts = spec[(eq + 1)..].Split(';');
                    options.Variants.Add(new VariantSpec(spec[..eq], parts[0] is "." or "" ? null : Path.GetFullPath(parts[0]), parts[1..]));
                    break;
                default:
                    throw new ArgumentException($"unknown argument {args[i]}");
            }
        }

        options.Rounds = rounds ?? (options.Mode == "smoke" ? 1 : 3);
        return options;
    }
}
