using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ResumableUpload.Client.Tests.Infrastructure;

namespace ResumableUpload.Client.Tests;

/// <summary>The <c>resumable-upload</c> tool, run as a process (its built DLL) against our server.</summary>
public sealed class CliTests
{
    private static readonly string CliDll = Path.Combine(AppContext.BaseDirectory, "resumable-upload.dll");

    [Theory]
    [InlineData("xfileid")]
    [InlineData("tus")]
    [InlineData("ietf")]
    public async Task Upload_TwoFilesInParallelWithJson_ExitsZeroAndPrintsOneCompletedObjectPerFile(string protocol)
    {
        await using var server = await UploadServer.StartAsync();
        var files = new[] { await WriteFileAsync(server.Root, "a.bin", 3_000_000, 1), await WriteFileAsync(server.Root, "b.bin", 1_000_000, 2) };

        var (exit, stdout, stderr) = await RunAsync(["upload", .. files, "--url", server.BaseAddress.ToString(), "--protocol", protocol,
            "--chunk-size", "512KiB", "--parallel", "2", "--json", "--state", Path.Combine(server.Root, "state.json")]);

        exit.Should().Be(0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(2, "--json prints one object per file and nothing else: " + stdout);
        foreach (var (line, file) in lines.Zip(files))
        {
            using var json = JsonDocument.Parse(line);
            json.RootElement.GetProperty("status").GetString().Should().Be("completed");
            json.RootElement.GetProperty("file").GetString().Should().Be(file);
            var location = json.RootElement.TryGetProperty("location", out var l) ? new Uri(l.GetString()!) : null;
            var fileId = json.RootElement.TryGetProperty("fileId", out var f) ? f.GetString() : null;
            var result = new UploadResult(UploadProtocol.Tus, location, fileId, 0, 200, null, null);
            (await server.DownloadSha256Async(result)).Should().Be(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(file))));
        }
    }

    [Fact]
    public async Task Upload_KilledMidwayAndRunAgain_ResumesFromTheServerOffset()
    {
        // Each request waits a little, so the 8 MiB upload in 256 KiB chunks takes several seconds and can be killed.
        await using var server = await UploadServer.StartAsync(async (context, next) =>
        {
            if (context.Request.ContentLength > 0)
            {
                await Task.Delay(100);
            }

            await next();
        });
        var file = await WriteFileAsync(server.Root, "killed.bin", 8 << 20, 3);
        string[] args = ["upload", file, "--url", server.BaseAddress.ToString(), "--protocol", "tus", "--chunk-size", "256KiB", "--json", "--state", Path.Combine(server.Root, "state.json")];

        using (var first = Start(args))
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            first.HasExited.Should().BeFalse("the first run must still be uploading when it is killed");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }

        var (exit, stdout, stderr) = await RunAsync(args);

        exit.Should().Be(0, stderr);
        using var json = JsonDocument.Parse(stdout);
        json.RootElement.GetProperty("status").GetString().Should().Be("completed");
        json.RootElement.GetProperty("resumedFrom").GetInt64().Should().BeGreaterThan(0, "the second run resumes the killed one's upload");
        var result = new UploadResult(UploadProtocol.Tus, new Uri(json.RootElement.GetProperty("location").GetString()!), null, 0, 200, null, null);
        (await server.DownloadSha256Async(result)).Should().Be(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(file))));
    }

    [Fact]
    public async Task Upload_ServerRefuses_ExitsOneWithTheFailureInJson()
    {
        await using var server = await UploadServer.StartAsync(async (context, next) =>
        {
            if (context.Request.ContentLength > 0)
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return;
            }

            await next();
        });
        var file = await WriteFileAsync(server.Root, "refused.bin", 1000, 4);

        var (exit, stdout, _) = await RunAsync(["upload", file, "--url", server.BaseAddress.ToString(), "--protocol", "xfileid", "--json", "--state", Path.Combine(server.Root, "state.json")]);

        exit.Should().Be(1);
        using var json = JsonDocument.Parse(stdout);
        json.RootElement.GetProperty("status").GetString().Should().Be("failed");
        json.RootElement.GetProperty("httpStatus").GetInt32().Should().Be(403);
    }

    [Theory]
    [InlineData("upload", "missing-file.bin", "--url", "http://127.0.0.1:1/")]
    [InlineData("upload", "--url", "http://127.0.0.1:1/")]
    [InlineData("upload", "x", "--url", "not a url")]
    [InlineData("download")]
    public async Task WrongArguments_ExitTwoWithAMessage(params string[] args)
    {
        var (exit, _, stderr) = await RunAsync(args);

        exit.Should().Be(2);
        stderr.Should().StartWith("error: ");
    }

    private static async Task<string> WriteFileAsync(string directory, string name, int length, int seed)
    {
        var path = Path.Combine(directory, name);
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        return path;
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string[] args)
    {
        using var process = Start(args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
