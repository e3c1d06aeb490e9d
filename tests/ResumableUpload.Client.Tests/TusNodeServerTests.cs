using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;
using ResumableUpload.Client.Tests.Infrastructure;

namespace ResumableUpload.Client.Tests;

/// <summary>
/// The client's tus mode against a tus server we did not write: <c>@tus/server</c> with <c>@tus/file-store</c> from npm,
/// started by the test (tus-node/server.mjs). Needs <c>npm ci</c> in tus-node/ (eng/test.sh runs it).
/// </summary>
public sealed class TusNodeServerTests
{
    private static readonly string NodeDirectory = Path.Combine(FindRepositoryRoot(), "tests", "ResumableUpload.Client.Tests", "tus-node");

    [Fact]
    public async Task Upload_ToTusNodeServer_ThroughADroppingProxy_StoresTheFileIntactAndResumesAfterAPause()
    {
        var storage = Path.Combine(Path.GetTempPath(), "ru-client-tests", "tus-node-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(storage);
        using var node = StartServer(storage, out var port);
        try
        {
            await using var proxy = new TcpProxy(() => port, dropEveryBytes: 5L << 20);
            var options = Clients.Options(Wire.Tus, new Uri(proxy.BaseAddress, "files/"));
            options.ChunkSize = 2L << 20;
            var storePath = Clients.StorePath();
            const long length = 12L << 20;
            await using var content = new PatternStream(length, seed: 5);
            var source = UploadSource.FromStream(content, "node.bin", "tus-node");

            using (var pause = new CancellationTokenSource())
            using (var store = new JsonFileUploadResumeStore(storePath))
            {
                var first = new ResumableUploadClient(Clients.Http(), options, store);
                var paused = () => first.UploadAsync(source, new Clients.ProgressLog(p =>
                {
                    if (p.BytesUploaded >= 4L << 20)
                    {
                        pause.Cancel();
                    }
                }), pause.Token);
                await paused.Should().ThrowAsync<OperationCanceledException>();
            }

            UploadResult result;
            using (var store = new JsonFileUploadResumeStore(storePath))
            {
                var second = new ResumableUploadClient(Clients.Http(), options, store);
                var progress = new Clients.ProgressLog();
                result = await second.UploadAsync(source, progress);
                progress.Reports[0].BytesUploaded.Should().BeGreaterThan(0, "the second client resumes the first one's upload");
            }

            proxy.Drops.Should().BeGreaterThan(0);
            var id = result.Location!.Segments[^1];
            var stored = Path.Combine(storage, id);
            File.Exists(stored).Should().BeTrue($"@tus/file-store keeps the upload as {stored}");
            Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(stored))).Should().Be(PatternStream.Sha256(length, seed: 5));
        }
        finally
        {
            node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
            Directory.Delete(storage, recursive: true);
        }
    }

    private static Process StartServer(string storage, out int port)
    {
        if (!Directory.Exists(Path.Combine(NodeDirectory, "node_modules", "@tus", "server")))
        {
            Assert.Fail($"@tus/server is not installed. Run `npm ci` in {NodeDirectory} (bash eng/test.sh does it).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = NodeDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("server.mjs");
        start.ArgumentList.Add(storage);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"Could not start node ({e.Message}). Install Node.js 20.19 or later (bash eng/test.sh does it).");
            throw;
        }

        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(20)) || line.Result is not { } text || !text.StartsWith("listening ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("@tus/server did not start: " + process.StandardError.ReadToEnd());
        }

        port = int.Parse(line.Result!["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return process;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ResumableUpload.Middleware.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with ResumableUpload.Middleware.sln) was not found above " + AppContext.BaseDirectory);
    }
}
