using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ResumableUpload.Soak;

/// <summary>
/// The sample app as a child process: started with <c>dotnet ResumableUpload.Sample.dll</c> on a fixed port and
/// upload directory, killed with SIGKILL (<see cref="Process.Kill(bool)"/>) and started again on the same ones.
/// </summary>
internal sealed class ServerHost : IDisposable
{
    private readonly string _dll;
    private readonly string _dataDirectory;
    private readonly StreamWriter _log;
    private readonly Lock _gate = new();
    private Process? _process;
    private int _starts;
    private bool _disposed;

    public ServerHost(string dll, int port, string dataDirectory, string logPath)
    {
        _dll = dll;
        Port = port;
        _dataDirectory = dataDirectory;
        _log = new StreamWriter(logPath, append: false) { AutoFlush = true };
    }

    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    public int Starts => _starts;

    /// <summary>Where the sample's build output is, relative to the repository root, or null with a message.</summary>
    public static string? LocateSample(string repoRoot, string? configuration, out string message)
    {
        var candidates = configuration is null ? new[] { "Release", "Debug" } : new[] { configuration };
        foreach (var candidate in candidates)
        {
            var path = Path.Combine(repoRoot, "samples", "ResumableUpload.Sample", "bin", candidate, "net10.0", "ResumableUpload.Sample.dll");
            if (File.Exists(path))
            {
                message = $"sample: {Path.GetRelativePath(repoRoot, path)}";
                return path;
            }
        }

        message = $"error: the sample is not built (looked for samples/ResumableUpload.Sample/bin/{string.Join(" and ", candidates)}/net10.0/ResumableUpload.Sample.dll under {repoRoot}).\n" +
                  $"Build it first: dotnet build ResumableUpload.Middleware.sln -c {configuration ?? "Release"}";
        return null;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public void Start()
    {
        lock (_gate)
        {
            if (_process is { HasExited: false })
            {
                throw new InvalidOperationException("The server is already running.");
            }

            _process?.Dispose();
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (string.IsNullOrEmpty(dotnet) || !File.Exists(dotnet))
            {
                dotnet = "dotnet";
            }

            var info = new ProcessStartInfo(dotnet)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = false,
                WorkingDirectory = Path.GetDirectoryName(_dll)!,
            };
            info.ArgumentList.Add(_dll);
            info.ArgumentList.Add("--urls");
            info.ArgumentList.Add($"http://127.0.0.1:{Port}");
            info.ArgumentList.Add($"--ResumableUploads:FileSystem:RootPath={_dataDirectory}");
            info.ArgumentList.Add($"--ResumableUploads:MaxUploadSize={4L << 30}");
            info.ArgumentList.Add("--ResumableUploads:ProgressPublishInterval=65536");
            info.ArgumentList.Add("--Logging:LogLevel:Default=Warning");
            info.Environment["DOTNET_NOLOGO"] = "1";
            info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";

            var number = Interlocked.Increment(ref _starts);
            var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) => Write(number, e.Data);
            process.ErrorDataReceived += (_, e) => Write(number, e.Data);
            Write(number, $"=== start #{number} at {DateTimeOffset.Now:O}");
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process = process;
        }
    }

    public bool HasExited
    {
        get
        {
            lock (_gate)
            {
                return _process is null || _process.HasExited;
            }
        }
    }

    /// <summary>Waits until <c>GET /status</c> answers; starts the process again if it died during start-up.</summary>
    public async Task WaitReadyAsync(HttpClient http, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        var failedStarts = 0;
        while (deadline.Elapsed < timeout)
        {
            if (HasExited)
            {
                if (++failedStarts > 5)
                {
                    break;
                }

                Write(_starts, "=== the server exited during start-up; starting it again");
                await Task.Delay(250);
                Start();
            }

            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseAddress, "status"));
                request.Headers.Add("X-File-Id", "soak-ready-probe");
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                using var response = await http.SendAsync(request, cts.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
            {
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"The sample did not answer GET /status within {timeout.TotalSeconds:0} s (see the server log).");
    }

    /// <summary>SIGKILL the whole process (tree) and wait for it to be gone.</summary>
    public void Kill()
    {
        lock (_gate)
        {
            if (_process is null)
            {
                return;
            }

            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }

                _process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            Write(_starts, $"=== killed at {DateTimeOffset.Now:O}");
        }
    }

    private void Write(int number, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_disposed)
            {
                return;
            }

            _log.WriteLine($"[{number}] {line}");
        }
    }

    public void Dispose()
    {
        Kill();
        lock (_gate)
        {
            _process?.Dispose();
            _process = null;
        }

        lock (_log)
        {
            _disposed = true;
            _log.Dispose();
        }
    }
}
