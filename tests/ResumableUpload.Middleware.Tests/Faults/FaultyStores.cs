using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Storage.FileSystem;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>The real filesystem state store, failing where the <see cref="FaultPlan"/> says.</summary>
internal sealed class FaultyStateStore(FileSystemUploadStateStore inner, FileSystemPaths paths, FaultPlan plan) : IUploadStateStore
{
    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.StateGet, path: paths.StatePath(key));
        return inner.GetAsync(key, cancellationToken);
    }

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.StateSave, record.Offset, paths.StatePath(record.Key));
        return inner.SaveAsync(record, cancellationToken);
    }

    public ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
        => inner.ClaimAsync(key, fencingToken, cancellationToken);

    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.StateDelete, path: paths.StatePath(key));
        return inner.DeleteAsync(key, fencingToken, cancellationToken);
    }

    public IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
        => inner.GetExpiredAsync(now, cancellationToken);
}

/// <summary>The real filesystem data store, failing where the <see cref="FaultPlan"/> says.</summary>
internal sealed class FaultyDataStore(FileSystemUploadDataStore inner, FileSystemPaths paths, FaultPlan plan) : IUploadDataStore, IUploadDataConcatenation
{
    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
    {
        var path = paths.DataPath(key);
        plan.Check(FaultPoint.DataOpenWriter, offset, path);
        return new FaultyWriter(await inner.OpenWriterAsync(key, offset, expectedLength, fencingToken, cancellationToken), path, plan);
    }

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.DataOpenRead, path: paths.DataPath(key));
        return inner.OpenReadAsync(key, cancellationToken);
    }

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.DataComplete, length, paths.DataPath(key));
        return inner.CompleteAsync(key, length, fencingToken, cancellationToken);
    }

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.DataDelete, path: paths.DataPath(key));
        return inner.DeleteAsync(key, cancellationToken);
    }

    public ValueTask ConcatenateAsync(string targetKey, IReadOnlyList<string> sourceKeys, CancellationToken cancellationToken)
        => inner.ConcatenateAsync(targetKey, sourceKeys, cancellationToken);
}

/// <summary>
/// The real writer, failing where the <see cref="FaultPlan"/> says. Like the real one it counts only bytes of
/// writes that succeeded; a partial write (a full disk) leaves bytes in the file past <see cref="Position"/>.
/// </summary>
internal sealed class FaultyWriter(IUploadDataWriter inner, string path, FaultPlan plan) : IUploadDataWriter
{
    private long _position = inner.Position;

    public long Position => _position;

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var (failure, writeFirst) = plan.CheckWrite(_position, data.Length, path);
        if (failure is not null)
        {
            if (writeFirst > 0 && inner.Position == _position)
            {
                await inner.WriteAsync(data[..writeFirst], cancellationToken);
            }

            throw failure;
        }

        if (inner.Position != _position)
        {
            throw new InvalidOperationException("The engine wrote again after a failed write; the fault injector cannot model that.");
        }

        await inner.WriteAsync(data, cancellationToken);
        _position += data.Length;
    }

    public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.WriterFlush, _position, path);
        return inner.FlushAsync(toDisk, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>The in-process lock provider, failing where the <see cref="FaultPlan"/> says (a distributed lock service being down).</summary>
internal sealed class FaultyLockProvider(InProcessUploadLockProvider inner, FaultPlan plan) : IUploadLockProvider
{
    public ValueTask<IAsyncDisposable?> TryAcquireAsync(string key, TimeSpan timeout, CancellationToken cancellationToken)
    {
        plan.Check(FaultPoint.LockAcquire);
        return inner.TryAcquireAsync(key, timeout, cancellationToken);
    }
}

internal static class FaultInjectionRegistration
{
    /// <summary>Wraps the real filesystem stores and in-process lock provider in fault injectors driven by <paramref name="plan"/>.</summary>
    public static IResumableUploadBuilder AddFaultInjection(this IResumableUploadBuilder builder, FaultPlan plan)
    {
        builder.Services.AddSingleton(plan);
        builder.Services.AddSingleton<FileSystemUploadStateStore>();
        builder.Services.AddSingleton<FileSystemUploadDataStore>();
        builder.Services.AddSingleton<InProcessUploadLockProvider>();
        return builder.AddStateStore<FaultyStateStore>()
                      .AddDataStore<FaultyDataStore>()
                      .AddLockProvider<FaultyLockProvider>();
    }
}
