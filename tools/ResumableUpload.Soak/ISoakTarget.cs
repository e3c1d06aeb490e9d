namespace ResumableUpload.Soak;

/// <summary>
/// What the soak uploads to and injects faults into: one sample process (SIGKILL) or a cluster of three behind nginx
/// (SIGKILL, SIGSTOP/SIGCONT, restarts of the state and data servers).
/// </summary>
internal interface ISoakTarget
{
    /// <summary>Where clients send their requests.</summary>
    Uri BaseAddress { get; }

    /// <summary>
    /// How long a request may make no progress before the client gives up on it (a real client's idle timeout), or
    /// null for only the overall timeouts. A cluster needs one: a request to a SIGSTOPped instance hangs.
    /// </summary>
    TimeSpan? StallTimeout { get; }

    /// <summary>Starts everything and returns when clients can upload.</summary>
    Task StartAsync(HttpClient http);

    /// <summary>Injects fault number <paramref name="number"/> (1-based) and returns once the system serves again; returns what it did.</summary>
    Task<string> InjectFaultAsync(int number, Random random, CancellationToken cancellationToken);

    /// <summary>The fault of the final check (after every upload finished), then back to serving.</summary>
    Task<string> FinalFaultAsync(Random random, CancellationToken cancellationToken);

    /// <summary>Summary lines: what was injected and how often.</summary>
    IEnumerable<string> SummaryLines();

    /// <summary>Diagnostics for a failed run (logs of the processes).</summary>
    IEnumerable<string> DiagnosticLines();

    /// <summary>Kills every child process at once (Ctrl+C, process exit); SIGCONTs a stopped one first.</summary>
    void KillAll();
}

/// <summary>The original soak: one sample process on the filesystem store, killed with SIGKILL and started again.</summary>
internal sealed class SingleServerTarget : ISoakTarget
{
    private readonly ServerHost _server;
    private readonly string _logPath;
    private HttpClient? _http;

    public SingleServerTarget(ServerHost server, string logPath)
    {
        _server = server;
        _logPath = logPath;
    }

    public Uri BaseAddress => _server.BaseAddress;

    public TimeSpan? StallTimeout => null;

    public async Task StartAsync(HttpClient http)
    {
        _http = http;
        _server.Start();
        await _server.WaitReadyAsync(http, TimeSpan.FromSeconds(60));
    }

    public async Task<string> InjectFaultAsync(int number, Random random, CancellationToken cancellationToken)
    {
        _server.Kill();
        _server.Start();
        await _server.WaitReadyAsync(_http!, TimeSpan.FromSeconds(60));
        return $"SIGKILL #{number}";
    }

    public Task<string> FinalFaultAsync(Random random, CancellationToken cancellationToken) => InjectFaultAsync(0, random, cancellationToken);

    public IEnumerable<string> SummaryLines() => [$"server starts           {_server.Starts}"];

    public IEnumerable<string> DiagnosticLines()
    {
        var tail = File.Exists(_logPath) ? File.ReadLines(_logPath).TakeLast(30).ToArray() : [];
        return tail.Length == 0 ? [] : ["  last lines of server.log:", .. tail.Select(l => "    " + l)];
    }

    public void KillAll() => _server.Kill();
}
