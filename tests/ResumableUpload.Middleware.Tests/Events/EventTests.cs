using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Hosting;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Events;

/// <summary>Event handlers registered with <c>AddEvents&lt;T&gt;()</c> see, and can refuse, what happens to uploads.</summary>
public sealed class EventTests
{
    private const string AnonymousPartition = "anonymous:anonymous";

    [Fact]
    public async Task OnCreating_RejectsDeclaredLengthAboveLimit_ClientGets413ProblemAndNothingIsStored()
    {
        var journal = new EventJournal { RejectCreatingAbove = 5_000 };
        await using var host = await StartAsync(journal);

        using var response = await host.Client.UploadAsync("big", Protocol.RandomBytes(6_000), startByte: 0, fileSize: 6_000);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using (var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            problem.RootElement.GetProperty("status").GetInt32().Should().Be(413);
            problem.RootElement.GetProperty("detail").GetString().Should().Be(EventJournal.TooLargeDetail);
        }

        (await host.Client.GetStatusAsync("big")).Should().Be(0);
        DataFiles(host).Should().BeEmpty("a refused creation must not touch the data store");
        StateFiles(host).Should().BeEmpty();
        var creating = journal.Creating.Should().ContainSingle().Subject;
        creating.FileId.Should().Be("big");
        creating.Length.Should().Be(6_000);
        creating.IsRestart.Should().BeFalse();
        journal.Completed.Should().BeEmpty();
    }

    [Fact]
    public async Task OnCreating_WithinLimit_AcceptsAndSeesRestart()
    {
        var journal = new EventJournal { RejectCreatingAbove = 5_000 };
        await using var host = await StartAsync(journal);

        (await host.Client.UploadAsync("small", Protocol.RandomBytes(1_000), startByte: 0, fileSize: 4_000)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("small", Protocol.RandomBytes(4_000), startByte: 0, fileSize: 4_000)).StatusCode.Should().Be(HttpStatusCode.OK);

        journal.Creating.Select(c => (c.FileId, c.Partition, c.Length, c.IsRestart)).Should().Equal(
            ("small", AnonymousPartition, 4_000L, false),
            ("small", AnonymousPartition, 4_000L, true));
        (await host.Client.GetStatusAsync("small")).Should().Be(4_000);
    }

    [Fact]
    public async Task OnAuthorizing_RejectingDownload_Is403ButUploadAndStatusWork()
    {
        var journal = new EventJournal { RejectDownloads = true };
        await using var host = await StartAsync(journal);
        var file = Protocol.RandomBytes(2_000);

        (await host.Client.UploadAsync("guarded", file)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetStatusAsync("guarded")).Should().Be(2_000);
        using var request = new HttpRequestMessage(HttpMethod.Get, "download");
        request.Headers.Add("X-File-Id", "guarded");
        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain(EventJournal.NoDownloadsDetail);
        journal.Authorizing.Select(a => a.Operation).Should().Equal(UploadOperation.Append, UploadOperation.Status, UploadOperation.Download);
        journal.Authorizing.Should().OnlyContain(a => a.FileId == "guarded" && a.Partition == AnonymousPartition);
    }

    [Fact]
    public async Task OnCompleted_RunsOnceWithRecordAndReadableBytes()
    {
        var journal = new EventJournal();
        await using var host = await StartAsync(journal);
        var file = Protocol.RandomBytes(50_500, seed: 9);

        (await host.Client.UploadAsync("whole", file.AsMemory(0, 50_000), startByte: 0, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        journal.Completed.Should().BeEmpty("the upload is not finished yet");
        (await host.Client.UploadAsync("whole", file.AsMemory(50_000), startByte: 50_000, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("whole", ReadOnlyMemory<byte>.Empty, startByte: file.Length, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.GetStatusAsync("whole")).Should().Be(file.Length);

        var completed = journal.Completed.Should().ContainSingle("completion is reported once, not on every later request").Subject;
        completed.Record.FileId.Should().Be("whole");
        completed.Record.Partition.Should().Be(AnonymousPartition);
        completed.Record.Key.Should().Be(UploadKeys.Create(AnonymousPartition, "whole"));
        completed.Record.Offset.Should().Be(file.Length);
        completed.Record.Length.Should().Be(file.Length);
        completed.Record.IsCompleted.Should().BeTrue();
        completed.HadHttpContext.Should().BeTrue();
        completed.Sha256.Should().Be(Protocol.Sha256(file), "the handler reads exactly the uploaded bytes");
    }

    [Fact]
    public async Task Upload_BodyEndingExactlyAtDeclaredLength_AnswersOkEveryTime()
    {
        // Regression: AppendSession.AppendAsync used to read `buffer.Length` after `body.AdvanceTo(buffer.End)`; once
        // advanced the pipe may recycle the segments, so a multi-segment body ending exactly at X-File-Size was stored
        // and completed (OnCompleted ran) but answered 413 "goes past the declared length" for ~10-30 % of uploads.
        var journal = new EventJournal();
        await using var host = await StartAsync(journal);
        var answers = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            var file = Protocol.RandomBytes(60_000, seed: i);
            using var response = await host.Client.UploadAsync("exact-" + i, file, startByte: 0, fileSize: file.Length);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                answers.Add($"exact-{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        journal.Completed.Should().HaveCount(40, "every upload received all its bytes");
        answers.Should().BeEmpty("an upload that completed must be answered 200");
    }

    [Fact]
    public async Task OnCompleted_UploadWithoutDeclaredSize_RunsWhenBodyEnds()
    {
        var journal = new EventJournal();
        await using var host = await StartAsync(journal);
        var file = Protocol.RandomBytes(10_000, seed: 11);

        (await host.Client.UploadAsync("undeclared", file, startByte: 0, fileSize: null, chunked: true)).StatusCode.Should().Be(HttpStatusCode.OK);

        var completed = journal.Completed.Should().ContainSingle().Subject;
        completed.Record.Length.Should().Be(10_000);
        completed.Sha256.Should().Be(Protocol.Sha256(file));
    }

    [Fact]
    public async Task OnProgress_BodyLargerThanPublishInterval_ReportsIncreasingOffsets()
    {
        var journal = new EventJournal();
        await using var host = await StartAsync(journal, o => o.ProgressPublishInterval = 4096);
        var file = Protocol.RandomBytes(40_960, seed: 5);

        // Send 8 KiB at a time and wait until the server has published it, so several progress events are certain.
        using var request = Protocol.UploadRequest("progress", file, startByte: 0, fileSize: file.Length);
        request.Content = new PacedContent(file, 8_192, async sent =>
            (await Protocol.EventuallyAsync(() => Task.FromResult(journal.Progress.Count >= sent / 8_192))).Should().BeTrue("each 8 KiB sent passes the 4 KiB publish interval"));
        using var response = await host.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var offsets = journal.Progress.Select(p => p.Offset).ToList();
        offsets.Should().HaveCountGreaterThanOrEqualTo(4);
        offsets.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        offsets.Should().OnlyContain(o => o > 0 && o <= file.Length);
        journal.Progress.Should().OnlyContain(p => p.FileId == "progress" && !p.IsCompleted);
        journal.Completed.Should().ContainSingle().Which.Record.Offset.Should().Be(file.Length);
    }

    [Fact]
    public async Task OnDeleted_AfterExpiry_RunsWithReasonExpired()
    {
        var journal = new EventJournal();
        var time = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var host = await StartAsync(
            journal,
            o =>
            {
                o.IncompleteUploadExpiration = TimeSpan.FromHours(1);
                o.ExpirationScanInterval = TimeSpan.FromDays(30); // only the explicit RunOnceAsync below removes uploads
            },
            time);
        (await host.Client.UploadAsync("stale", Protocol.RandomBytes(700), startByte: 0, fileSize: 2_000)).StatusCode.Should().Be(HttpStatusCode.OK);

        (await ExpirationService(host).RunOnceAsync(CancellationToken.None)).Should().Be(0, "nothing has expired yet");
        journal.Deleted.Should().BeEmpty();
        time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        (await ExpirationService(host).RunOnceAsync(CancellationToken.None)).Should().Be(1);

        var deleted = journal.Deleted.Should().ContainSingle().Subject;
        deleted.Reason.Should().Be(UploadDeletionReason.Expired);
        deleted.Record.FileId.Should().Be("stale");
        deleted.Record.Offset.Should().Be(700);
        deleted.HadHttpContext.Should().BeFalse("expiry is background work");
        DataFiles(host).Should().BeEmpty("OnDeleted runs after the bytes are removed");
    }

    [Fact]
    public async Task OnCompleted_HandlerThrows_UploadStill200AndErrorLoggedWithEventId9()
    {
        var journal = new EventJournal();
        await using var host = await StartAsync(journal, configureUploads: b => b.AddEvents<ThrowingEvents>().AddEvents<RecordingEvents>());
        var file = Protocol.RandomBytes(3_000);

        using var response = await host.Client.UploadAsync("throws", file);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("3000");
        (await host.Client.GetStatusAsync("throws")).Should().Be(3_000);
        (await host.Client.DownloadAsync("throws")).Should().Equal(file);
        var failure = host.Logs.LibraryEntries.Should().ContainSingle(e => e.EventId.Id == 9).Subject;
        failure.Level.Should().Be(LogLevel.Error);
        failure.Exception.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be(ThrowingEvents.Message);
        failure.Message.Should().Contain("OnCompletedAsync");
        journal.Completed.Should().ContainSingle("a failing handler does not stop the next one");
    }

    [Fact]
    public async Task OnCompleted_HandlerThrowsOperationCanceled_UploadStill200WithCount()
    {
        var journal = new EventJournal { ThrowFromCompleted = new OperationCanceledException("The handler's own timeout.") };
        await using var host = await StartAsync(journal);

        using var response = await host.Client.UploadAsync("handler-timeout", Protocol.RandomBytes(2_000));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("2000", "the client parses the count; a handler's cancellation is not the client's");
        host.Logs.LibraryEntries.Should().Contain(e => e.EventId.Id == 9);
        host.Logs.LibraryEntries.Should().NotContain(e => e.EventId.Id == 4, "the client did not go away");
    }

    [Fact]
    public async Task OnProgress_HandlerThrows_UploadStillCompletes()
    {
        var journal = new EventJournal { ThrowFromProgress = new InvalidOperationException("Progress handler failed.") };
        await using var host = await StartAsync(journal, o => o.ProgressPublishInterval = 4096);
        var file = Protocol.RandomBytes(64_000);

        using var response = await host.Client.UploadAsync("progress-throws", file, startByte: 0, fileSize: null, chunked: true);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("64000");
        (await host.Client.DownloadAsync("progress-throws")).Should().Equal(file);
        journal.Progress.Should().NotBeEmpty();
        host.Logs.LibraryEntries.Should().Contain(e => e.EventId.Id == 9 && e.Message.Contains("OnProgressAsync"));
    }

    [Fact]
    public async Task OnCreating_RejectingARestart_KeepsTheExistingBytes()
    {
        var journal = new EventJournal { RejectCreatingAbove = 5_000 };
        await using var host = await StartAsync(journal);
        var file = Protocol.RandomBytes(4_000);
        (await host.Client.UploadAsync("keep", file.AsMemory(0, 1_500), startByte: 0, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);

        using var refused = await host.Client.UploadAsync("keep", Protocol.RandomBytes(6_000), startByte: 0, fileSize: 6_000);

        refused.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        journal.Creating.Last().IsRestart.Should().BeTrue();
        (await host.Client.GetStatusAsync("keep")).Should().Be(1_500, "a refused restart must not wipe the upload");
        (await host.Client.UploadAsync("keep", file.AsMemory(1_500), startByte: 1_500, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.DownloadAsync("keep")).Should().Equal(file);
    }

    private static Task<UploadTestHost> StartAsync(
        EventJournal journal,
        Action<ResumableUploadOptions>? configureOptions = null,
        TimeProvider? time = null,
        Action<IResumableUploadBuilder>? configureUploads = null)
        => UploadTestHost.StartAsync(
            configureOptions: configureOptions,
            configureUploads: configureUploads ?? (b => b.AddEvents<RecordingEvents>()),
            configureServices: s =>
            {
                s.AddSingleton(journal);
                if (time is not null)
                {
                    s.AddSingleton(time);
                }
            });

    private static UploadExpirationService ExpirationService(UploadTestHost host)
        => host.Services.GetServices<IHostedService>().OfType<UploadExpirationService>().Single();

    private static List<string> DataFiles(UploadTestHost host) => FilesUnder(Path.Combine(host.StorageRoot, "data"));

    private static List<string> StateFiles(UploadTestHost host) => FilesUnder(Path.Combine(host.StorageRoot, "state"));

    private static List<string> FilesUnder(string directory)
        => Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).ToList() : [];

    /// <summary>What the handlers saw, and how they should behave; one per host, shared through DI.</summary>
    public sealed class EventJournal
    {
        public const string TooLargeDetail = "Files over 5000 bytes are not accepted here.";
        public const string NoDownloadsDetail = "Downloads are switched off for this test.";

        public long? RejectCreatingAbove { get; init; }

        public bool RejectDownloads { get; init; }

        public Exception? ThrowFromCompleted { get; init; }

        public Exception? ThrowFromProgress { get; init; }

        public ConcurrentQueue<(UploadOperation Operation, string Partition, string FileId)> Authorizing { get; } = new();

        public ConcurrentQueue<(string Partition, string FileId, long? Length, bool IsRestart)> Creating { get; } = new();

        public ConcurrentQueue<(string FileId, long Offset, bool IsCompleted)> Progress { get; } = new();

        public ConcurrentQueue<(UploadRecord Record, string Sha256, bool HadHttpContext)> Completed { get; } = new();

        public ConcurrentQueue<(UploadRecord Record, UploadDeletionReason Reason, bool HadHttpContext)> Deleted { get; } = new();
    }

    public sealed class RecordingEvents(EventJournal journal) : ResumableUploadEvents
    {
        public override ValueTask OnAuthorizingAsync(UploadAuthorizingContext context)
        {
            journal.Authorizing.Enqueue((context.Operation, context.Partition, context.FileId));
            if (journal.RejectDownloads && context.Operation == UploadOperation.Download)
            {
                context.Reject(403, EventJournal.NoDownloadsDetail);
            }

            return ValueTask.CompletedTask;
        }

        public override ValueTask OnCreatingAsync(UploadCreatingContext context)
        {
            journal.Creating.Enqueue((context.Partition, context.FileId, context.Length, context.IsRestart));
            if (context.Length > journal.RejectCreatingAbove)
            {
                context.Reject(413, EventJournal.TooLargeDetail);
            }

            return ValueTask.CompletedTask;
        }

        public override ValueTask OnProgressAsync(UploadProgressContext context)
        {
            journal.Progress.Enqueue((context.Upload.FileId, context.Upload.Offset, context.Upload.IsCompleted));
            return journal.ThrowFromProgress is { } failure ? ValueTask.FromException(failure) : ValueTask.CompletedTask;
        }

        public override async ValueTask OnCompletedAsync(UploadCompletedContext context)
        {
            string sha;
            await using (var stream = await context.OpenReadAsync(context.CancellationToken))
            {
                sha = Convert.ToHexString(await SHA256.HashDataAsync(stream, context.CancellationToken));
            }

            journal.Completed.Enqueue((context.Upload, sha, context.HttpContext is not null));
            if (journal.ThrowFromCompleted is { } failure)
            {
                throw failure;
            }
        }

        public override ValueTask OnDeletedAsync(UploadDeletedContext context)
        {
            journal.Deleted.Enqueue((context.Upload, context.Reason, context.HttpContext is not null));
            return ValueTask.CompletedTask;
        }
    }

    public sealed class ThrowingEvents : ResumableUploadEvents
    {
        public const string Message = "The completed-upload handler failed on purpose.";

        public override ValueTask OnCompletedAsync(UploadCompletedContext context) => throw new InvalidOperationException(Message);
    }

    /// <summary>A body sent in pieces, awaiting <c>afterPiece(bytesSentSoFar)</c> after each one.</summary>
    private sealed class PacedContent(byte[] bytes, int pieceSize, Func<long, Task> afterPiece) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var sent = 0; sent < bytes.Length;)
            {
                var piece = Math.Min(pieceSize, bytes.Length - sent);
                await stream.WriteAsync(bytes.AsMemory(sent, piece));
                await stream.FlushAsync();
                sent += piece;
                if (sent < bytes.Length)
                {
                    await afterPiece(sent);
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }
}
