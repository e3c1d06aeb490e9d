using System.Text;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.ScaleOut.Tests;

/// <summary>
/// Three instances of the sample sharing one state store and one data store, behind nginx (round robin, bodies
/// streamed). The backends are real servers started for the test; the instances are configured from the command line
/// only, as the docs tell an operator to.
/// </summary>
internal sealed class Cluster : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private Cluster()
    {
    }

    public IReadOnlyList<SampleInstance> Instances { get; private set; } = [];

    public NginxServer Nginx { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public static async Task<Cluster> StartAsync(Backends backends, int instanceCount = 3)
    {
        var cluster = new Cluster();
        try
        {
            var configuration = await backends.StartAsync(cluster._owned);
            var instances = new List<SampleInstance>();
            foreach (var name in Enumerable.Range(1, instanceCount).Select(i => $"app{i}"))
            {
                var instance = await SampleInstance.StartAsync(name, configuration);
                cluster._owned.Add(instance);
                instances.Add(instance);
            }

            cluster.Instances = instances;
            cluster.Nginx = await NginxServer.StartAsync(instances.Select(i => i.Port).ToArray());
            cluster._owned.Add(cluster.Nginx);
            cluster.Client = new HttpClient { BaseAddress = cluster.Nginx.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>A client that talks to one instance directly, bypassing nginx.</summary>
    public static HttpClient Direct(SampleInstance instance) => new() { BaseAddress = new Uri($"http://127.0.0.1:{instance.Port}/"), Timeout = TimeSpan.FromMinutes(2) };

    /// <summary>Everything the instances and nginx said (for failure messages).</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        foreach (var instance in Instances)
        {
            text.Append("--- ").Append(instance.Name).Append(instance.IsAlive ? string.Empty : " (dead)").AppendLine(" ---").AppendLine(Tail(instance.Output));
        }

        if (Nginx is not null)
        {
            text.AppendLine("--- nginx error log ---").AppendLine(Tail(Nginx.ErrorLog));
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            try
            {
                await _owned[i].DisposeAsync();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
        }
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : text[^6000..];
}

/// <summary>A shared state store (with its locks) and a shared data store: starts their servers, returns the instances' configuration.</summary>
internal abstract class Backends
{
    public abstract string Name { get; }

    /// <summary>Starts the servers (added to <paramref name="owned"/> for disposal) and returns the sample's command-line configuration.</summary>
    public abstract Task<IReadOnlyList<string>> StartAsync(List<IAsyncDisposable> owned);

    public override string ToString() => Name;
}
