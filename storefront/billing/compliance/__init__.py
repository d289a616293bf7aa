"""What Korean e-commerce law asks of a subscription store, each rule in its own module.

consent (a price rise or a trial's first paid charge only with the shopper's consent,
전자상거래법 제13조⑥), price_changes (the merchant's side: booking those rises), notices
(renewal notices ahead of each automatic renewal), cooling_off (청약철회, 제17조: withdraw a
payment in its window and get all of it back), withdrawal (회원탈퇴: closing an account while
keeping the records the law keeps).
"""
