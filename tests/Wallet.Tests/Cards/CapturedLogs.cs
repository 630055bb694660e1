using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Wallet.Tests.Cards;

/// <summary>One log line as written: its level, its category and its text.</summary>
internal sealed record CapturedLine(LogLevel Level, string Category, string Text);

/// <summary>
/// A logger provider that keeps every line in memory, at every level: the formatted message, each
/// structured argument, the exception with its stack, and the state of every scope begun. What a
/// log sink could receive, so a test can search it.
/// </summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLine> _lines = new();

    public IReadOnlyCollection<CapturedLine> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<CapturedLine> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            lines.Enqueue(new CapturedLine(LogLevel.Trace, category, "scope " + Describe(state)));
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = new StringBuilder()
                .Append(eventId.Id).Append(' ').Append(eventId.Name).Append(": ")
                .Append(formatter(state, exception)).Append(' ').Append(Describe(state));
            if (exception is not null)
            {
                text.Append(' ').Append(exception);
            }

            lines.Enqueue(new CapturedLine(logLevel, category, text.ToString()));
        }

        private static string Describe<TState>(TState state) => state is IEnumerable<KeyValuePair<string, object?>> values
            ? string.Join(' ', values.Select(v => $"{v.Key}={v.Value}"))
            : state?.ToString() ?? "";
    }
}
