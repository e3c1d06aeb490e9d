using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Middleware.Tests.Storage;

public sealed class InProcessUploadLockProviderTests
{
    [Fact]
    public async Task TryAcquire_WhileHeld_ReturnsNullAfterTheWait()
    {
        var locks = new InProcessUploadLockProvider();
        await using var first = await locks.TryAcquireAsync("k", TimeSpan.Zero, default);

        var second = await locks.TryAcquireAsync("k", TimeSpan.FromMilliseconds(50), default);

        first.Should().NotBeNull();
        second.Should().BeNull();
    }

    [Fact]
    public async Task TryAcquire_AfterRelease_Succeeds()
    {
        var locks = new InProcessUploadLockProvider();
        var first = await locks.TryAcquireAsync("k", TimeSpan.Zero, default);
        var waiting = locks.TryAcquireAsync("k", TimeSpan.FromMinutes(1), default).AsTask();

        await first!.DisposeAsync();
        await using var second = await waiting;

        second.Should().NotBeNull("the waiter gets the lock as soon as it is released");
    }

    [Fact]
    public async Task TryAcquire_DifferentKeys_DoNotContend()
    {
        var locks = new InProcessUploadLockProvider();
        await using var a = await locks.TryAcquireAsync("a", TimeSpan.Zero, default);
        await using var b = await locks.TryAcquireAsync("b", TimeSpan.Zero, default);

        a.Should().NotBeNull();
        b.Should().NotBeNull();
    }

    [Fact]
    public async Task Release_OfEveryHolderAndWaiter_ForgetsTheKey()
    {
        var locks = new InProcessUploadLockProvider();
        var held = await locks.TryAcquireAsync("k", TimeSpan.Zero, default);
        (await locks.TryAcquireAsync("k", TimeSpan.FromMilliseconds(10), default)).Should().BeNull();
        using var cancel = new CancellationTokenSource();
        var cancelled = locks.TryAcquireAsync("k", TimeSpan.FromMinutes(1), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await cancelled.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();

        await held!.DisposeAsync();
        await held.DisposeAsync();

        locks.ActiveKeys.Should().Be(0);
    }
}
