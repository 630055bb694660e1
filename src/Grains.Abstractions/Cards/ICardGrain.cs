using Orleans;
using Orleans.Concurrency;

namespace Wallet.Grains.Cards;

/// <summary>
/// One card, funding from one wallet. Every authorization of the card is decided in one of its
/// turns: fraud rules, status and spending controls, then a hold on the funding wallet.
/// </summary>
[Alias("wallet.ICardGrain")]
public interface ICardGrain : IGrainWithStringKey
{
    [Alias("Create")]
    Task<CardResult> Create(CreateCard command);

    [Alias("Get")]
    Task<CardResult> Get(string tenantId);

    /// <summary>Reads the card's row again, after a data subject's erasure pseudonymised its cardholder name there.</summary>
    [Alias("Refresh")]
    Task Refresh();

    [Alias("Update")]
    Task<CardResult> Update(UpdateCard command);

    [Alias("ChangeStatus")]
    Task<CardResult> ChangeStatus(ChangeCardStatus command);

    [Alias("Authorize")]
    Task<AuthorizationResult> Authorize(AuthorizeCommand command);

    /// <summary>Captures, reverses or increments one of the card's approved authorizations.</summary>
    [Alias("Act")]
    Task<AuthorizationResult> Act(AuthorizationCommand command);
}
