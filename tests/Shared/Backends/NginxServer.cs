using System.Globalization;
using System.Text;

namespace ResumableUpload.Testing.Shared.Backends;

/// <summary>
/// nginx as the load balancer in front of several app instances: round robin, request bodies streamed to the app as
/// they arrive (<c>proxy_request_buffering off</c> over HTTP/1.1 keep-alive upstreams), no body size limit. Runs in
/// the foreground from a config written to a fresh directory, on a free loopback port.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    private const string HowToInstall = "Install nginx: apt-get install -y --no-install-recommends nginx";
    private readonly ServerProcess _process;
    private readonly string _directory;

    private NginxServer(ServerProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>The config nginx runs with (for failure messages and the docs).</summary>
    public string Config => File.ReadAllText(Path.Combine(_directory, "nginx.conf"));

    public static async Task<NginxServer> StartAsync(IReadOnlyList<int> upstreamPorts)
    {
        var nginx = ServerProcess.Require(File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx", HowToInstall);
        var directory = ServerProcess.CreateDirectory("ru-nginx");
        foreach (var temp in new[] { "client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs" })
        {
            var path = Path.Combine(directory, temp);
            Directory.CreateDirectory(path);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, (UnixFileMode)0x3FF); // 1777
            }
        }

        var port = ServerProcess.FreePort();
        var upstreams = new StringBuilder();
        foreach (var upstream in upstreamPorts)
        {
            // A dead instance is skipped for new requests (max_fails/fail_timeout); a request whose body was sent
            // to an instance that died is never replayed to another (nginx does not retry non-idempotent requests).
            upstreams.Append(CultureInfo.InvariantCulture, $"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=2s;\n");
        }

        var config = $$"""
            worker_processes 1;
            daemon off;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/logs/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log {{directory}}/logs/access.log;
                client_body_temp_path {{directory}}/client_body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;

                upstream app {
            {{upstreams}}        keepalive 16;
                }

                server {
                    listen 127.0.0.1:{{port}};
                    client_max_body_size 0;              # the app enforces its own upload limits
                    location / {
                        proxy_pass http://app;
                        proxy_http_version 1.1;          # needed for streaming chunked bodies and keep-alive
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        proxy_request_buffering off;     # stream the body to the app as it arrives
                        proxy_buffering off;             # and the app's answers (downloads) back
                        proxy_read_timeout 300s;
                        proxy_send_timeout 300s;
                        proxy_next_upstream error timeout;
                    }
                }
            }
            """;
        var configPath = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config);

        var process = await ServerProcess.StartAsync(
            "nginx",
            nginx,
            ["-c", configPath, "-p", directory + "/", "-e", Path.Combine(directory, "logs", "error.log")],
            ct => ServerProcess.IsListeningAsync(port, ct),
            TimeSpan.FromSeconds(15));
        return new NginxServer(process, directory, port);
    }

    /// <summary>nginx's error log (for failure messages).</summary>
    public string ErrorLog
    {
        get
        {
            var path = Path.Combine(_directory, "logs", "error.log");
            return File.Exists(path) ? File.ReadAllText(path) : string.Empty;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
