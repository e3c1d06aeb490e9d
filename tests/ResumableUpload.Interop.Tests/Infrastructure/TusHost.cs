using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ResumableUpload.Middleware;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Interop.Tests.Infrastructure;

/// <summary>
/// A real Kestrel host on 127.0.0.1 (ephemeral port) serving the uploads at <c>/files</c>, with filesystem stores in
/// a fresh temp directory and downloads on: the host the tus clients talk to.
/// </summary>
internal sealed class TusHost : IAsyncDisposable
{
    public const string Prefix = "/files";

    private readonly string _root;

    private TusHost(WebApplication app, string root, MemoryLogs logs)
    {
        App = app;
        _root = root;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    /// <summary>The tus creation endpoint, e.g. <c>http://127.0.0.1:41234/files</c>.</summary>
    public Uri Endpoint => new(BaseAddress, Prefix.TrimStart('/'));

    public HttpClient Client { get; }

    public MemoryLogs Logs { get; }

    /// <summary>The uploads the host created and finished, as its events saw them (file id, length, metadata).</summary>
    public RecordingEvents Events => App.Services.GetServices<ResumableUploadEvents>().OfType<RecordingEvents>().Single();

    public static async Task<TusHost> StartAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), "ru-interop-tests", Guid.NewGuid().ToString("N"));
        var storage = Path.Combine(root, "storage");
        var contentRoot = Path.Combine(root, "content-root");
        Directory.CreateDirectory(storage);
        Directory.CreateDirectory(contentRoot);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing", ContentRootPath = contentRoot });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var logs = new MemoryLogs();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Information);

        builder.Services.AddResumableUploads(o => o.EnableDownload = true).AddFileSystemStores(storage).AddEvents<RecordingEvents>();

        var app = builder.Build();
        app.MapResumableUploads(Prefix);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            TryDelete(root);
            throw;
        }

        return new TusHost(app, root, logs);
    }

    /// <summary>A tus HEAD (with <c>Tus-Resumable: 1.0.0</c>) on an upload URL path such as <c>/files/abc…</c>.</summary>
    public Task<HttpResponseMessage> HeadAsync(string path) => SendTusAsync(HttpMethod.Head, path);

    public async Task<HttpResponseMessage> SendTusAsync(HttpMethod method, string path, byte[]? body = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress, path.TrimStart('/')));
        request.Headers.Add("Tus-Resumable", "1.0.0");
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        }

        configure?.Invoke(request);
        return await Client.SendAsync(request);
    }

    /// <summary>GET on an upload URL path (no tus headers): the finished bytes.</summary>
    public async Task<byte[]> DownloadAsync(string path)
    {
        using var response = await Client.GetAsync(new Uri(BaseAddress, path.TrimStart('/')));
        var body = await response.Content.ReadAsByteArrayAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK, $"GET {path} should return the finished upload's bytes; body: {Truncate(body)}{Environment.NewLine}{Logs.Dump()}");
        return body;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        TryDelete(_root);
    }

    private static string Truncate(byte[] body) =>
        body.Length > 400 ? System.Text.Encoding.UTF8.GetString(body, 0, 400) + "…" : System.Text.Encoding.UTF8.GetString(body);

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Records what the host's events saw: the uploads created (with their metadata) and the uploads finished.</summary>
internal sealed class RecordingEvents : ResumableUploadEvents
{
    private readonly ConcurrentQueue<(string FileId, long? Length, IReadOnlyDictionary<string, string> Metadata)> _created = new();
    private readonly ConcurrentQueue<UploadRecord> _completed = new();

    public IReadOnlyList<(string FileId, long? Length, IReadOnlyDictionary<string, string> Metadata)> Created => [.. _created];

    public IReadOnlyList<UploadRecord> Completed => [.. _completed];

    public override ValueTask OnCreatingAsync(UploadCreatingContext context)
    {
        _created.Enqueue((context.FileId, context.Length, context.Metadata));
        return ValueTask.CompletedTask;
    }

    public override ValueTask OnCompletedAsync(UploadCompletedContext context)
    {
        _completed.Enqueue(context.Upload);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Keeps the host's log lines (warnings and up, plus the middleware's own) for assertion messages.</summary>
internal sealed class MemoryLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public string Dump() =>
        _lines.IsEmpty ? "(no server log lines)" : "server log:" + Environment.NewLine + string.Join(Environment.NewLine, _lines.TakeLast(60));

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel >= LogLevel.Warning || (logLevel >= LogLevel.Information && category.StartsWith("ResumableUpload", StringComparison.Ordinal));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var line = $"[{logLevel}] {category}: {formatter(state, exception)}";
            if (exception is not null)
            {
                line += Environment.NewLine + exception;
            }

            lines.Enqueue(line);
        }
    }
}
