using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.S3.Tests;

/// <summary>A real state store whose first save of a completed record fails, as a state store that went down right after the data store completed.</summary>
internal sealed class FailFirstCompletionSaveStateStore(IUploadStateStore inner) : IUploadStateStore
{
    private int _failed;

    public bool Failed => Volatile.Read(ref _failed) != 0;

    public ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);

    public ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken) => inner.ClaimAsync(key, fencingToken, cancellationToken);

    public ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
        => record.IsCompleted && Interlocked.Exchange(ref _failed, 1) == 0
            ? ValueTask.FromException(new IOException("The state store is down (test): the completion is not recorded."))
            : inner.SaveAsync(record, cancellationToken);

    public ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken) => inner.DeleteAsync(key, fencingToken, cancellationToken);

    public IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken) => inner.GetExpiredAsync(now, cancellationToken);
}

/// <summary>A real data store that counts the bytes its writers are given.</summary>
internal sealed class CountingDataStore(IUploadDataStore inner) : IUploadDataStore
{
    private long _written;

    public long Written => Interlocked.Read(ref _written);

    public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
        => new CountingWriter(this, await inner.OpenWriterAsync(key, offset, expectedLength, fencingToken, cancellationToken).ConfigureAwait(false));

    public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

    public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken) => inner.CompleteAsync(key, length, fencingToken, cancellationToken);

    public ValueTask DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

    private sealed class CountingWriter(CountingDataStore owner, IUploadDataWriter writer) : IUploadDataWriter
    {
        public long Position => writer.Position;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            Interlocked.Add(ref owner._written, data.Length);
            return writer.WriteAsync(data, cancellationToken);
        }

        public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => writer.FlushAsync(toDisk, cancellationToken);

        public ValueTask DisposeAsync() => writer.DisposeAsync();
    }
}

internal static class Decorating
{
    /// <summary>Replaces the registration of <typeparamref name="T"/> with <paramref name="decorate"/> around the instance it made.</summary>
    public static void Decorate<T>(this IServiceCollection services, Func<T, T> decorate)
        where T : class
    {
        var descriptor = services.Last(d => d.ServiceType == typeof(T));
        services.Remove(descriptor);
        services.AddSingleton(sp => decorate((T)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!))));
    }
}
