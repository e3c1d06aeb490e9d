using Microsoft.Extensions.Logging;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>Records the events logged through it, so tests can assert on event ids.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(EventId Id, string Message)> _events = [];

    public IReadOnlyList<(EventId Id, string Message)> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_events)
        {
            _events.Add((eventId, formatter(state, exception)));
        }
    }
}
