using Xunit;

namespace ResumableUpload.Testing;

/// <summary>
/// What every conformance suite shares: the instances a test creates (several model several app instances) are
/// disposed after it, whichever of <see cref="IAsyncDisposable"/> or <see cref="IDisposable"/> they implement.
/// </summary>
/// <typeparam name="T">The contract under test.</typeparam>
public abstract class ConformanceTestBase<T> : IAsyncLifetime
    where T : class
{
    private readonly List<T> _created = [];

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var instance in _created)
        {
            switch (instance)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }

    /// <summary>Creates an instance with <paramref name="create"/> and remembers it for disposal.</summary>
    protected async Task<T> TrackAsync(Func<ValueTask<T>> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        var instance = await create();
        _created.Add(instance);
        return instance;
    }
}
