namespace Fabric.Nodes.Cli;

/// <summary>A problem the user can fix, reported as one line without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>One-line errors on stderr.</summary>
public static class Errors
{
    /// <summary>Plain text, never wrapped: scripts grep it and a person reads it whole.</summary>
    public static void Write(string message) => Console.Error.WriteLine("error: " + message);

    /// <summary>Writes the error and returns exit code 1.</summary>
    public static int Fail(string message)
    {
        Write(message);
        return 1;
    }

    public static string Innermost(Exception e)
    {
        while (e is AggregateException { InnerException: { } a }) e = a;
        while (e.InnerException is { } inner && e is System.Reflection.TargetInvocationException or TypeInitializationException) e = inner;
        return e.InnerException is { } i && i.Message != e.Message ? $"{e.Message} ({i.Message})" : e.Message;
    }
}
