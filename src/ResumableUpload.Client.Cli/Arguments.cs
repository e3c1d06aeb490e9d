using System.Globalization;
using ResumableUpload.Client;

namespace ResumableUpload.Client.Cli;

/// <summary>The parsed command line. Throws <see cref="FormatException"/> with a readable message on a mistake.</summary>
internal sealed class Arguments
{
    public string Command { get; private set; } = "upload";

    public List<string> Files { get; } = [];

    public ResumableUploadClientOptions Options { get; } = new();

    public int Parallel { get; private set; } = 1;

    public bool Json { get; private set; }

    public string? StatePath { get; private set; }

    public List<(string Name, string Value)> Headers { get; } = [];

    public static Arguments Parse(string[] args)
    {
        var parsed = new Arguments { Command = args[0] };
        if (parsed.Command is not ("upload" or "list"))
        {
            throw new FormatException($"unknown command '{args[0]}' (use 'upload' or 'list').");
        }

        string? url = null;
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{arg} needs a value.");
            switch (arg)
            {
                case "--url":
                    url = Value();
                    break;
                case "--protocol":
                    parsed.Options.Protocol = Value().ToLowerInvariant() switch
                    {
                        "xfileid" or "x-file-id" => UploadProtocol.XFileId,
                        "tus" => UploadProtocol.Tus,
                        "ietf" => UploadProtocol.Ietf,
                        var other => throw new FormatException($"unknown protocol '{other}' (use xfileid, tus or ietf)."),
                    };
                    break;
                case "--ietf-version":
                    parsed.Options.IetfInteropVersion = Int(arg, Value(), 5, 9);
                    break;
                case "--chunk-size":
                    parsed.Options.ChunkSize = Size(Value());
                    parsed.Options.MinimumChunkSize = Math.Min(parsed.Options.MinimumChunkSize, parsed.Options.ChunkSize);
                    break;
                case "--parallel":
                    parsed.Parallel = Int(arg, Value(), 1, 64);
                    break;
                case "--retries":
                    parsed.Options.MaxRetryAttempts = Int(arg, Value(), 0, 1000);
                    break;
                case "--no-checksum":
                    parsed.Options.Checksums = false;
                    break;
                case "--state":
                    parsed.StatePath = Value();
                    break;
                case "--header":
                    var header = Value();
                    var colon = header.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0)
                    {
                        throw new FormatException($"--header '{header}' is not 'Name: value'.");
                    }

                    parsed.Headers.Add((header[..colon].Trim(), header[(colon + 1)..].Trim()));
                    break;
                case "--json":
                    parsed.Json = true;
                    break;
                default:
                    if (arg.StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new FormatException($"unknown option '{arg}'.");
                    }

                    parsed.Files.Add(arg);
                    break;
            }
        }

        if (parsed.Command == "upload")
        {
            if (parsed.Files.Count == 0)
            {
                throw new FormatException("no file to upload.");
            }

            if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                throw new FormatException("--url must be an absolute http(s) URL.");
            }

            parsed.Options.Endpoint = endpoint;
            foreach (var file in parsed.Files.Where(f => !File.Exists(f)))
            {
                throw new FormatException($"the file '{file}' does not exist.");
            }
        }

        return parsed;
    }

    private static int Int(string name, string text, int min, int max)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{name} must be a whole number from {min} to {max}.");

    /// <summary>A size: plain bytes, or with KiB / MiB / GiB (or K / M / G, also powers of 1024).</summary>
    internal static long Size(string text)
    {
        var units = new (string Suffix, long Factor)[] { ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("G", 1L << 30), ("M", 1L << 20), ("K", 1L << 10), ("B", 1) };
        foreach (var (suffix, factor) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && long.TryParse(text[..^suffix.Length].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var scaled) && scaled > 0)
            {
                return scaled * factor;
            }
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? bytes
            : throw new FormatException($"--chunk-size '{text}' is not a size like 8MiB, 512KiB or 1000000.");
    }
}
