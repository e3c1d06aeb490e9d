using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ResumableUpload.Middleware.Tests.Infrastructure;

/// <summary>Collects log entries so tests can assert on event ids.</summary>
public sealed class TestLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    /// <summary>Only the library's own entries (event ids are unique within the library, not across ASP.NET Core).</summary>
    public IReadOnlyCollection<LogEntry> LibraryEntries => _entries.Where(e => e.Category.StartsWith("ResumableUpload.Middleware.", StringComparison.Ordinal)).ToArray();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

    private sealed class Logger(TestLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}
