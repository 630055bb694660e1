using Wallet.Runtime;

namespace Wallet.Grains.Cards;

/// <summary>
/// One card, funding from one wallet. Every authorization of the card is decided in one of its
/// turns: fraud rules, status and spending controls, then a hold on the funding wallet.
/// </summary>
public interface ICardGrain : IGrainWithStringKey
{
    Task<CardResult> Create(CreateCard command);

    Task<CardResult> Get(string tenantId);

    Task<CardResult> Update(UpdateCard command);

    Task<CardResult> ChangeStatus(ChangeCardStatus command);

    Task<AuthorizationResult> Authorize(AuthorizeCommand command);

    /// <summary>Captures, reverses or increments one of the card's approved authorizations.</summary>
    Task<AuthorizationResult> Act(AuthorizationCommand command);
}
