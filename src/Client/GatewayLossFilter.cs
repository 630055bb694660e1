using Wallet.Grains;

namespace Wallet.Client;

/// <summary>
/// Fails the calls in flight when a gateway connection is lost, instead of letting them wait out
/// <see cref="WalletClientOptions.CallTimeout"/>: Orleans keeps a call whose gateway died waiting
/// for an answer that cannot come, and every call routed through that gateway would stall.
/// </summary>
/// <remarks>
/// The client cannot tell which gateway a call went through, so a loss fails every call in flight
/// at that moment, through any gateway. Each fails as a retryable
/// <see cref="LedgerUnavailableException"/>; whether it was applied is unknown, which is what an
/// Idempotency-Key is for: the retry finds what committed, or shares the outcome of the attempt
/// still running (the grains hold in-flight keys).
/// </remarks>
internal sealed class GatewayLossFilter : IOutgoingGrainCallFilter
{
    private CancellationTokenSource _lost = new();

    public void OnGatewayCountChanged(object? sender, GatewayCountChangedEventArgs e)
    {
        if (e.NumberOfConnectedGateways < e.PreviousNumberOfConnectedGateways)
        {
            // Not disposed: a call may still be reading its token (a source without timers holds nothing).
            Interlocked.Exchange(ref _lost, new CancellationTokenSource()).Cancel();
        }
    }

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        var lost = Volatile.Read(ref _lost).Token;
        try
        {
            await context.Invoke().WaitAsync(lost);
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested)
        {
            throw new LedgerUnavailableException(
                $"A gateway connection was lost while {context.InterfaceName}.{context.MethodName} was in flight; retry with the same Idempotency-Key.");
        }
    }
}
