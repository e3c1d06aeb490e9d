using System.Globalization;

namespace ResumableUpload.Soak;

/// <summary>The command line of the soak test.</summary>
internal sealed class SoakOptions
{
    public string Mode { get; private set; } = "short";

    public ulong Seed { get; private set; }

    public bool SeedGiven { get; private set; }

    /// <summary>How long uploads are started and the server is killed.</summary>
    public TimeSpan Duration { get; private set; }

    /// <summary>The least number of kills: the killer goes on past <see cref="Duration"/> until it has killed this often.</summary>
    public int MinKills { get; private set; }

    /// <summary>Uploads in flight at once.</summary>
    public int Concurrency { get; private set; } = 8;

    /// <summary>How long the uploads still running when killing stops have to finish.</summary>
    public TimeSpan Grace { get; private set; }

    /// <summary>The sample's build configuration to run; null means Release, then Debug.</summary>
    public string? Configuration { get; private set; }

    /// <summary>Keep the temporary upload directory even when the run passes.</summary>
    public bool KeepData { get; private set; }

    /// <summary>
    /// The cluster soak's store combinations to run one after the other (<c>Redis+S3</c>, <c>PostgreSql+AzureBlob</c>),
    /// or null for the single-server soak.
    /// </summary>
    public IReadOnlyList<string>? Cluster { get; private set; }

    /// <summary>The largest upload (64 MiB; 24 MiB in a short cluster run, 48 MiB in a long one).</summary>
    public long MaxSize { get; private set; } = 64L << 20;

    /// <summary>In a cluster run: the fewest faults of each kind (instance kill, instance stop, state and data server restart).</summary>
    public int EachFaultAtLeast { get; private set; }

    public static string Usage =>
        """
        usage: dotnet run --project tools/ResumableUpload.Soak -c Release -- [options]

          --mode short|long      short: 60 s and at least 20 kills (default); long: 600 s and at least 150 kills
          --seed N               seed of the upload sizes, contents, disconnects and kill moments (default: random)
          --duration SECONDS     how long uploads are started and the server is killed
          --kills N              the least number of kills (the killer goes on past --duration until it has them)
          --concurrency N        uploads in flight at once (default 8)
          --grace SECONDS        time the last uploads have to finish after killing stops (short 60, long 180)
          --configuration NAME   the sample build to run (default: Release, else Debug)
          --keep-data            keep the temporary upload directory
          --cluster NAME         the cluster soak instead: three sample instances behind nginx on real servers, with
                                 SIGKILL and SIGSTOP/SIGCONT of instances and restarts of the state and data servers;
                                 NAME is redis-s3, postgresql-azureblob or all (one after the other).
                                 short: 60 s and at least 8 faults (2 of each kind), 6 uploads in flight, up to 24 MiB;
                                 long: 600 s per combination, at least 50 faults (6 of each kind), up to 48 MiB
                
        The soak builds nothing: build the sample first (dotnet build ResumableUpload.Middleware.sln -c Release).
        """;

    public static SoakOptions Parse(string[] args)
    {
        var options = new SoakOptions();
        double? duration = null, grace = null;
        int? kills = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"{arg} needs a value.");
                }

                return args[++i];
            }

            switch (arg)
            {
                case "--mode":
                    options.Mode = Value().ToLowerInvariant();
                    if (options.Mode is not ("short" or "long"))
                    {
                        throw new ArgumentException("--mode must be short or long.");
                    }

                    break;
                case "--seed":
                    options.Seed = ulong.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    options.SeedGiven = true;
                    break;
                case "--duration":
                    duration = PositiveDouble(arg, Value());
                    break;
                case "--kills":
                    kills = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                case "--concurrency":
                    options.Concurrency = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    if (options.Concurrency < 1)
                    {
                        throw new ArgumentException("--concurrency must be at least 1.");
                    }

                    break;
                case "--grace":
                    grace = PositiveDouble(arg, Value());
                    break;
                case "--configuration":
                    options.Configuration = Value();
                    break;
                case "--cluster":
                    options.Cluster = Value().ToLowerInvariant() switch
                    {
                        "redis-s3" => ["Redis+S3"],
                        "postgresql-azureblob" => ["PostgreSql+AzureBlob"],
                        "all" => ["Redis+S3", "PostgreSql+AzureBlob"],
                        var other => throw new ArgumentException($"--cluster must be redis-s3, postgresql-azureblob or all, not '{other}'."),
                    };
                    break;
                case "--keep-data":
                    options.KeepData = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{arg}'.");
            }
        }

        var isLong = options.Mode == "long";
        options.Duration = TimeSpan.FromSeconds(duration ?? (isLong ? 600 : 60));
        options.Grace = TimeSpan.FromSeconds(grace ?? (isLong ? 180 : 60));
        if (options.Cluster is null)
        {
            options.MinKills = kills ?? (isLong ? 150 : 20);
        }
        else
        {
            // A fault takes seconds here (an instance start, a stop longer than the lease, a server restart), so
            // there are far fewer of them than kills of the single server.
            options.MinKills = kills ?? (isLong ? 50 : 8);
            options.EachFaultAtLeast = isLong ? 6 : 2;
            options.MaxSize = isLong ? 48L << 20 : 24L << 20;
            if (!args.Contains("--concurrency"))
            {
                options.Concurrency = 6;
            }
        }

        if (!options.SeedGiven)
        {
            options.Seed = (ulong)Random.Shared.NextInt64(1, 1_000_000_000);
        }

        return options;
    }

    private static double PositiveDouble(string name, string value)
    {
        var parsed = double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!(parsed > 0))
        {
            throw new ArgumentException($"{name} must be positive.");
        }

        return parsed;
    }
}
