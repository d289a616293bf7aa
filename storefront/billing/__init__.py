"""The billing domain: no request, no session object from Flask, no template in here.

cycle (billing dates), vault (sealed billing keys), periods (which Charge is due, the
row lock), charging (charge a period exactly once, reconcile, retry after a card
change), settlement (paid / declined / dunning / notices), errors (plain-Korean reasons).
"""
