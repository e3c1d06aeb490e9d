using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ResumableUpload.Client;
using Spectre.Console;

namespace ResumableUpload.Client.Cli;

/// <summary>The <c>resumable-upload</c> command.</summary>
public static class Program
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;

    private const string Help = """
        resumable-upload upload <file>... --url <endpoint> [options]
        resumable-upload list [--state <path>]

        Uploads files with resumable uploads. Run the same command again after Ctrl+C or a kill: it resumes.

        Options:
          --url <endpoint>        tus / IETF creation URL, or the X-File-Id prefix (status and upload live under it)
          --protocol <p>          xfileid | tus | ietf (default: tus)
          --ietf-version <n>      IETF interop version, 5 to 9 (default: 6)
          --chunk-size <size>     largest request body, e.g. 8MiB, 512KiB, 1000000 (default: 8MiB)
          --parallel <n>          files uploaded at once (default: 1)
          --retries <n>           retries of one step before giving up (default: 10)
          --no-checksum           do not send per-chunk SHA-256 checksums
          --state <path>          resume state file (default: ResumableUpload/uploads.json in local app data)
          --header <name:value>   an extra request header (repeatable), e.g. "Authorization: Bearer ..."
          --json                  print one JSON object per file on stdout, nothing else

        Exit codes: 0 all uploaded, 1 an upload failed, 2 wrong arguments, 130 interrupted (run again to resume).
        """;

    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        return await RunAsync(args, cancel.Token).ConfigureAwait(false);
    }

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Help);
            return args.Length == 0 ? Usage : Ok;
        }

        Arguments parsed;
        try
        {
            parsed = Arguments.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            Console.Error.WriteLine("Run 'resumable-upload --help' for the usage.");
            return Usage;
        }

        using var store = parsed.StatePath is null ? new JsonFileUploadResumeStore() : new JsonFileUploadResumeStore(parsed.StatePath);
        if (parsed.Command == "list")
        {
            foreach (var record in await store.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{record.Protocol}\t{record.Name}\t{record.Length}\t{record.Location ?? record.FileId}\t{record.Endpoint}"));
            }

            return Ok;
        }

        return await UploadAsync(parsed, store, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> UploadAsync(Arguments parsed, JsonFileUploadResumeStore store, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        foreach (var (name, value) in parsed.Headers)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
        }

        var client = new ResumableUploadClient(http, parsed.Options, store);
        var outcomes = new FileOutcome[parsed.Files.Count];
        var live = !parsed.Json && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

        async Task RunAllAsync(Func<int, IProgress<UploadProgress>> progressFor)
        {
            using var gate = new SemaphoreSlim(parsed.Parallel);
            await Task.WhenAll(parsed.Files.Select(async (file, index) =>
            {
                await gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    outcomes[index] = await UploadOneAsync(client, file, progressFor(index), cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    gate.Release();
                }
            })).ConfigureAwait(false);
        }

        if (live)
        {
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var tasks = parsed.Files.Select(f => context.AddTask(Markup.Escape(Path.GetFileName(f)), autoStart: true, maxValue: Math.Max(1, new FileInfo(f).Exists ? new FileInfo(f).Length : 1))).ToArray();
                    await RunAllAsync(index => new Progress(p =>
                    {
                        tasks[index].MaxValue = Math.Max(1, p.TotalBytes);
                        tasks[index].Value = p.BytesUploaded;
                    })).ConfigureAwait(false);
                    foreach (var task in tasks)
                    {
                        task.StopTask();
                    }
                }).ConfigureAwait(false);
        }
        else
        {
            await RunAllAsync(_ => new Progress(_ => { })).ConfigureAwait(false);
        }

        foreach (var outcome in outcomes)
        {
            if (parsed.Json)
            {
                Console.Out.WriteLine(outcome.ToJson());
            }
            else
            {
                Console.Out.WriteLine(outcome.ToText());
            }
        }

        return outcomes.Any(o => o.Status == "failed") ? Failed
             : outcomes.Any(o => o.Status == "paused") ? Interrupted
             : Ok;
    }

    private static async Task<FileOutcome> UploadOneAsync(ResumableUploadClient client, string path, IProgress<UploadProgress> progress, CancellationToken cancellationToken)
    {
        long? resumedFrom = null;
        var reporter = new Progress(p =>
        {
            resumedFrom ??= p.BytesUploaded == p.TotalBytes && p.TotalBytes > 0 ? null : p.BytesUploaded;
            progress.Report(p);
        });
        var clock = Stopwatch.StartNew();
        try
        {
            var file = new FileInfo(path);
            var result = await client.UploadAsync(UploadSource.FromFile(file), reporter, cancellationToken).ConfigureAwait(false);
            return new FileOutcome(path, "completed", file.Length, resumedFrom ?? 0, clock.Elapsed, result.Location?.ToString(), result.FileId, result.StatusCode, result.Body, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new FileOutcome(path, "paused", null, resumedFrom ?? 0, clock.Elapsed, null, null, null, null, "interrupted; run the command again to resume");
        }
        catch (ResumableUploadException e)
        {
            return new FileOutcome(path, "failed", null, resumedFrom ?? 0, clock.Elapsed, null, null, e.StatusCode, e.ResponseBody, e.Message);
        }
        catch (IOException e)
        {
            return new FileOutcome(path, "failed", null, 0, clock.Elapsed, null, null, null, null, e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return new FileOutcome(path, "failed", null, 0, clock.Elapsed, null, null, null, null, e.Message);
        }
    }

    /// <summary>Reports synchronously (the client already limits reports to ten a second).</summary>
    private sealed class Progress(Action<UploadProgress> report) : IProgress<UploadProgress>
    {
        public void Report(UploadProgress value) => report(value);
    }

    private sealed record FileOutcome(string File, string Status, long? Bytes, long ResumedFrom, TimeSpan Elapsed, string? Location, string? FileId, int? HttpStatus, string? Body, string? Error)
    {
        public string ToJson()
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("file", File);
                json.WriteString("status", Status);
                if (Bytes is { } bytes)
                {
                    json.WriteNumber("bytes", bytes);
                }

                json.WriteNumber("resumedFrom", ResumedFrom);
                json.WriteNumber("seconds", Math.Round(Elapsed.TotalSeconds, 3));
                WriteOptional(json, "location", Location);
                WriteOptional(json, "fileId", FileId);
                if (HttpStatus is { } status)
                {
                    json.WriteNumber("httpStatus", status);
                }

                WriteOptional(json, "body", Body);
                WriteOptional(json, "error", Error);
                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        public string ToText() => Status switch
        {
            "completed" => $"uploaded  {File}  {Location ?? FileId}",
            "paused" => $"paused    {File}  ({Error})",
            _ => $"FAILED    {File}  {(HttpStatus is { } s ? s.ToString(CultureInfo.InvariantCulture) + " " : string.Empty)}{Error}",
        };

        private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
        {
            if (value is not null)
            {
                json.WriteString(name, value);
            }
        }
    }
}
