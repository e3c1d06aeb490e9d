using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage.FileSystem;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Middleware.Tests.Protocols.Tus;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>
/// A real full disk: the stores on a tmpfs of a few MiB, no fault injection. The ENOSPC the kernel reports must
/// reach the client as 507, the offset must stay consistent with the bytes on disk, and once space is freed the
/// upload resumes and completes intact. These tests mount a filesystem, so they need root on Linux; where mounting
/// is impossible they fail with a message saying so (xunit 2 has no dynamic skip), never pass silently.
/// </summary>
public sealed class DiskFullTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task RealTmpfs4MiB_XFileIdUploadOf10MiB_Returns507AndResumesIntactAfterRemountTo32MiB()
    {
        await using var tmpfs = await Tmpfs.MountAsync("size=4m");
        var file = Protocol.RandomBytes(10 * MiB, seed: 2024);
        const string FileId = "too-big-for-the-disk";

        // The sample's settings: the default publish interval and durability, filesystem stores under the mount.
        await using (var host = await UploadTestHost.StartAsync(storageRoot: tmpfs.Path))
        {
            using (var failed = await host.Client.UploadAsync(FileId, file, startByte: 0, fileSize: file.Length))
            {
                await failed.ShouldBeStoreFailureAsync(FaultKind.DiskFull);
            }

            var offset = await host.Client.GetStatusAsync(FileId);
            var dataPath = DataPath(host, FileId);
            ShouldBeConsistent(dataPath, offset, file);
            new FileInfo(dataPath).Length.Should().BeLessThan(4 * MiB, "the data file cannot be larger than the filesystem");

            await tmpfs.RemountAsync("size=32m");

            var resumeAt = await host.Client.GetStatusAsync(FileId);
            resumeAt.Should().Be(offset, "nothing changed the upload while the disk was full");
            using (var resumed = await host.Client.UploadAsync(FileId, file.AsMemory((int)resumeAt), startByte: resumeAt, fileSize: file.Length))
            {
                resumed.StatusCode.Should().Be(HttpStatusCode.OK, "with space again the upload resumes from byte {0}: {1}", resumeAt, await resumed.Content.ReadAsStringAsync());
            }

            (await host.Client.GetStatusAsync(FileId)).Should().Be(file.Length);
            Protocol.Sha256(await host.Client.DownloadAsync(FileId)).Should().Be(Protocol.Sha256(file));
            Protocol.Sha256(await File.ReadAllBytesAsync(dataPath)).Should().Be(Protocol.Sha256(file));
        }
    }

    [Fact]
    public async Task RealTmpfs8MiBWithFiller_TusPatchOf6MiB_Returns507AndResumesIntactAfterTheFillerIsDeleted()
    {
        await using var tmpfs = await Tmpfs.MountAsync("size=8m");
        var filler = System.IO.Path.Combine(tmpfs.Path, "filler.bin");
        await File.WriteAllBytesAsync(filler, new byte[5 * MiB]);
        var file = Protocol.RandomBytes(6 * MiB, seed: 2025);

        await using (var host = await UploadTestHost.StartAsync(storageRoot: System.IO.Path.Combine(tmpfs.Path, "uploads")))
        {
            var url = await host.Client.CreateUploadAsync(file.Length);
            var dataPath = DataPath(host, FaultHost.TusFileId(url));
            using (var failed = await host.Client.PatchAsync(url, 0, file))
            {
                await failed.ShouldBeStoreFailureAsync(FaultKind.DiskFull);
                failed.Header("Tus-Resumable").Should().Be(TusClient.Version);
            }

            var offset = await host.Client.GetOffsetAsync(url);
            ShouldBeConsistent(dataPath, offset, file);

            File.Delete(filler);

            var resumeAt = await host.Client.GetOffsetAsync(url);
            resumeAt.Should().Be(offset);
            using (var resumed = await host.Client.PatchAsync(url, resumeAt, file.AsMemory((int)resumeAt)))
            {
                resumed.StatusCode.Should().Be(HttpStatusCode.NoContent, "with space again the PATCH from byte {0} completes: {1}", resumeAt, await resumed.Content.ReadAsStringAsync());
            }

            Protocol.Sha256(await host.Client.GetByteArrayAsync(url)).Should().Be(Protocol.Sha256(file));
            Protocol.Sha256(await File.ReadAllBytesAsync(dataPath)).Should().Be(Protocol.Sha256(file));
        }
    }

    private static string DataPath(UploadTestHost host, string fileId)
        => host.Services.GetRequiredService<FileSystemPaths>().DataPath(UploadKeys.Create(FaultHost.AnonymousPartition, fileId));

    private static void ShouldBeConsistent(string dataPath, long offset, byte[] file)
    {
        var onDisk = File.Exists(dataPath) ? File.ReadAllBytes(dataPath) : [];
        offset.Should().BeLessThanOrEqualTo(onDisk.Length, "the published offset ({0}) must never count more than the {1} bytes really in the data file", offset, onDisk.Length);
        Protocol.Sha256(onDisk.AsSpan(0, (int)offset)).Should().Be(Protocol.Sha256(file.AsSpan(0, (int)offset)), "the counted bytes must be the client's");
    }

    /// <summary>A tmpfs mounted on a fresh directory for one test, unmounted (and the directory removed) when disposed.</summary>
    private sealed class Tmpfs : IAsyncDisposable
    {
        private Tmpfs(string path) => Path = path;

        public string Path { get; }

        public static async Task<Tmpfs> MountAsync(string options)
        {
            if (!OperatingSystem.IsLinux())
            {
                Assert.Fail($"This disk-full test mounts a tmpfs and runs only on Linux (this is {RuntimeInformation.OSDescription}). Exclude it with --filter \"FullyQualifiedName!~DiskFullTests\" where that is impossible.");
            }

            if (geteuid() != 0)
            {
                Assert.Fail($"This disk-full test must mount a tmpfs (mount -t tmpfs -o {options}) and needs root for that; it runs as uid {geteuid()}. Run the tests as root (for example in the CI container) or exclude it with --filter \"FullyQualifiedName!~DiskFullTests\".");
            }

            var path = UploadTestHost.CreateTempDirectory();
            var (code, output) = await RunAsync("mount", "-t", "tmpfs", "-o", options, "tmpfs", path);
            if (code != 0)
            {
                UploadTestHost.TryDeleteDirectory(path);
                Assert.Fail($"Mounting a tmpfs ({options}) on {path} failed with exit code {code}: {output.Trim()}. The disk-full test cannot run here (a container without CAP_SYS_ADMIN?); exclude it with --filter \"FullyQualifiedName!~DiskFullTests\".");
            }

            return new Tmpfs(path);
        }

        public async Task RemountAsync(string options)
        {
            var (code, output) = await RunAsync("mount", "-o", "remount," + options, Path);
            code.Should().Be(0, "remounting the tmpfs with {0} should work: {1}", options, output);
        }

        public async ValueTask DisposeAsync()
        {
            var (code, _) = await RunAsync("umount", Path);
            if (code != 0)
            {
                await RunAsync("umount", "-l", Path);
            }

            UploadTestHost.TryDeleteDirectory(Path);
        }

        private static async Task<(int ExitCode, string Output)> RunAsync(string program, params string[] arguments)
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            try
            {
                using var process = Process.Start(start)!;
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                return (process.ExitCode, await stdout + await stderr);
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                return (-1, $"cannot run {program}: {ex.Message}");
            }
        }

        [DllImport("libc", SetLastError = false)]
        private static extern uint geteuid();
    }
}
